"""The spatial core: CRS, coordinate transforms, measurement and vector IO. No web, no domain."""
