"""The ground floor: user-facing errors, where files live, progress, weight files and command-line helpers."""
