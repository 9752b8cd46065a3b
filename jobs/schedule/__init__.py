"""Scheduling: the lease shared through the database, due periods and run-due."""
