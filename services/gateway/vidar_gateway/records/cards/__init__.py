"""Records (FindFace's cards) of people and vehicles, on watch lists."""
