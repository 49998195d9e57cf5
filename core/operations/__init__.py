"""Running SIKS: backups and restores of the database and the files beside it."""
