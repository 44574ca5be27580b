"""Report writers: they take plain data (dataclasses built by services) and write PDF/XLSX.

reportlab and openpyxl are imported inside the writers, never at start-up.
"""
