"""Figure scripts: each figure saves PNG, PDF and the CSV of every plotted point."""
