"""The job queue: long jobs (runs, publishing, the province's report) taken by workers under a lease."""
