"""SQL models of the marts layer (see transforms/runner.py); a package so wheels ship the .sql files."""
