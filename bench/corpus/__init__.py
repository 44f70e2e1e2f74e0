"""The real-document corpus: its manifest, the fetcher that brings it in at bench time."""
