"""Microsoft 365: sign-in with msal (``auth``), Microsoft Graph over httpx (``graph``), Graph
items → memories (``mapping``, ``office``) and the incremental connector (``sync``)."""
