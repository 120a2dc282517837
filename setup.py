from setuptools import find_packages, setup

setup(
    name='msg_plugin',
    version='0.1.0',
    description='MSG-GAN (multi-scale gradients GAN) for OpenMMLab mmagic',
    packages=find_packages(include=['msg_plugin', 'msg_plugin.*']),
    python_requires='>=3.9',
    install_requires=[
        'torch>=2.0',
        'torchvision',
        'mmengine>=0.10,<1.0',
        'mmcv-lite>=2.0.0,<2.2.0',
        'mmagic>=1.2.0',
        'numpy<2',
    ],
    extras_require={'tests': ['pytest']},
)
