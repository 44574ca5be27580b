"""IOPDesk: administration app for small Intensive Outpatient Program clinics."""

__version__ = "0.1.0"
APP_NAME = "IOPDesk"
