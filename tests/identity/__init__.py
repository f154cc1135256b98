"""The Cognito-compatible user pool and identity pool (cove.identity)."""
