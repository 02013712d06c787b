"""The web board (DESIGN §14): server-rendered pages over the same store, pipeline and events as the API."""
