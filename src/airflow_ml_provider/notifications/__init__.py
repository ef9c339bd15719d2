"""Run summaries and alert e-mails."""
