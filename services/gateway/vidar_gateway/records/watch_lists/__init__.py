"""Watch lists: which records to look for, on which camera groups, and how alike a match must be."""
