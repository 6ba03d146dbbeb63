"""The typer command line: parses flags, calls the library, prints. Nothing real lives here."""
