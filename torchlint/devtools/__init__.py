"""Tools for people who work on torchlint itself (not part of the linter's CLI)."""
