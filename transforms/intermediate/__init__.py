"""SQL models of the intermediate layer (see transforms/runner.py); a package so wheels ship the .sql files."""
