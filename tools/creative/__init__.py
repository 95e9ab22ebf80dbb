"""Creative studio: image and video assets cut, varied and checked for each ad platform."""
