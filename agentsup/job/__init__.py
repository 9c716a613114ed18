"""Job files: the schema (`models`), reading YAML with positions (`loader`), and the
cross-field checks that need the whole job (`checks`)."""
