"""Microsoft Teams conferencing for meetbridge, through Microsoft Graph (with a sandbox)."""
