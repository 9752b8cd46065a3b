"""The forecast jobs: the stored fleet, ad-hoc CSV series, the runway table, executors."""
