"""Record exports: pure functions from the records-API JSON of a published record to another format.

One module per format family; ``registry`` maps media types and Zenodo's export names to them.
"""
