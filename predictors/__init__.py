"""supernas.predictors"""
