"""Vision: the digits of chapters 05, 06 and 08, and the photos and paintings of chapter 07.

``datasets``  MNIST through the hub, digits as model input, pairs of digits for the addition machine
``cnn``       the book's CNN, our digit trunk and classifier (cached for chapters 06 and 08), RandomShift
``resnet``    a deep plain CNN and the same depth with residual blocks, and the signals through them (chapter 05)
``gan``       a GAN trained by ``fit()``, one train_step per backend (chapter 08)
``autoencoders`` the plain autoencoder and the VAE with their 2-D codes (chapter 08)
``images``    photos in and out as real files come (modes, orientation, size), atomic writes
``vgg``       VGG16 features, Gram matrices and the losses of style transfer (chapter 07)
``style``     the optimisers, the transfer, its measures (chapter 07)
"""
