"""Image cleanup: read and write photos faithfully, estimate noise, denoise with the ONNX U-Net in tiles."""
