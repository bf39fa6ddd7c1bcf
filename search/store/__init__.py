"""The Store: the only code that talks SQL; everything else gets plain, frozen records."""
