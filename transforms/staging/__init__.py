"""SQL models of the staging layer (see transforms/runner.py); a package so wheels ship the .sql files."""
