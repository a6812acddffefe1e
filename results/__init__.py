"""Committed results the commands read (package data): Table 2 at small scale, the Gemma figure."""
