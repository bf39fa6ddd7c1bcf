"""supernas.dashboard"""
