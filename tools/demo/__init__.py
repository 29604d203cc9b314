"""The demo that tells the story: a city's real-sized problem lists (dataset, load) and one
unannounced inspection that fails and reopens items (story). See docs/demo.md."""
