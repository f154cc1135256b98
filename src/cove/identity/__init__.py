"""Identity services: a Cognito-compatible user pool and identity pool, token keys, OIDC and Lambda
authorizers. The server's ``authn`` module turns requests into identities with them."""
