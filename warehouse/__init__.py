"""Imported as dissentry.warehouse (dissentry/warehouse is a symlink to this folder): one import root."""

if __name__ != "dissentry.warehouse":
    # the same files under a second name would be second modules: another registry, exception
    # classes that do not catch each other's, pickles that name another module
    raise ImportError(f"import dissentry.warehouse, not {__name__}")
