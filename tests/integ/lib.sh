#!/bin/sh
# PLACEHOLDER
