"""JSON shapes of the repository's read models: Zenodo's (``zenodo``), InvenioRDM's (``rdm``), and the
published record as every reader serves it (``published``). Below the resources, so that preservation
and exports use them without importing the HTTP layer."""
