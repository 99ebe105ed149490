"""The book's website: the runner's executed notebooks rendered as static HTML, then checked in a browser.

``build``     :func:`~dlbook.site.build.build_site`: build/*.ipynb → build/html (pages, contents, results)
``notebook``  one executed notebook as an HTML fragment: MathML, embedded figures, streams as shown
``browser``   headless Chromium over the DevTools protocol: console errors, images, math, fonts, links
"""
