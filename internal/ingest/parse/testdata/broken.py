import os

def good():
    return os.getcwd()

def bad(:
    pass

class Fine:
    def method(self):
        return 1
