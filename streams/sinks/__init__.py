"""Where window results go: InfluxDB points and alert events."""
