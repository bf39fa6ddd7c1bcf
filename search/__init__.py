"""supernas.search"""
