"""Report writers: they take plain data (dataclasses built by services) and write PDF/XLSX.

reportlab and openpyxl are imported inside the writers, never at start-up.
"""

# 42 CFR 2.32 short-form notice, stamped on every Part 2 record that leaves the clinic.
PART2_NOTICE = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."
