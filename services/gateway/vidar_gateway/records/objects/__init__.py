"""Objects: the photos of a face, a body or a car attached to a record, each with its embedding."""
