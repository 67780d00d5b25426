"""The web for people (docs/console.md): sign-in and one blueprint per desk, thin routes over the services."""
