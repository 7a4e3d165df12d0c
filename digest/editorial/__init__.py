"""The editor's operations, composed from the stages: candidates, preview, build, send-test, the mailing run."""
