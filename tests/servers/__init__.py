"""Real servers started on loopback for the test run (pytest plugin modules)."""
