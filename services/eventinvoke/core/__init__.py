"""Domain types shared by the services. Nothing here imports grpc."""
