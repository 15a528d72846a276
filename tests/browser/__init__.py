"""The pages in a real browser (Playwright and Debian's Chromium), checked with axe-core."""
