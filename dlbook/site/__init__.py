"""The book's website: the runner's executed notebooks rendered as static HTML, then checked in a browser.

``build``     :func:`~dlbook.site.build.build_site`: build/*.ipynb → build/html (editions, pages, results, downloads)
``editions``  the English and Chinese editions: labels, the English run's outputs merged into Chinese cells
``languages`` the language switch between a page and its other edition, checked in the browser
``notebook``  one executed notebook as an HTML fragment: MathML, media files, widgets and streams as shown
``mathml``    TeX → MathML that is right or an error (alignments, operator names, leftover TeX)
``media``     figures, animations and sounds as light files (WebP, MP3); lighter notebooks to download
``markup``    code lines with hanging indents; ``lang`` on Chinese text
``fonts``     the Chinese and math fonts cut down to the characters the site uses (WOFF2)
``search``    the prebuilt search index of every section
``scrub``     no path of the build machine and no lock message in a page
``audit``     the site's weight budgets, leftover machine paths, missing glyphs
``browser``   headless Chromium over the DevTools protocol: every page at a desktop and a phone width
``lab``       JupyterLab settings for readers: chapters open as notebooks, no news popup
"""
