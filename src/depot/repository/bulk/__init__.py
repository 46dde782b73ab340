"""Bulk ingest (issue 14): a batch of records and their files as one BagIt bag, published as a job.

``package`` unpacks and checks the bag, ``service`` keeps the jobs, ``job.run_bulk_job`` is the job's
entry point (enqueue it anywhere), ``worker`` runs its two halves inside ``depot serve``.
"""
