"""supernas.workers"""
