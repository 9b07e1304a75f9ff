"""Figures for the monthly review: /figures with its charts and workbook."""
