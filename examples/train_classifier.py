"""A fine-tuning loop whose epoch scheduler is stepped every batch (TL006)."""

import torch
from torch.optim.lr_scheduler import StepLR


def train(model, train_loader, epochs: int = 90, lr: float = 0.1):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    scheduler = StepLR(optimizer, step_size=30, gamma=0.1)
    criterion = torch.nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        for images, labels in train_loader:
            loss = criterion(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
