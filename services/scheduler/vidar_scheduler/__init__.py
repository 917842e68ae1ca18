"""vidar scheduler: the processing lifecycle of video archives."""
