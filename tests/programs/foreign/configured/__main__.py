"""Everything from config: a required location, a default classification and a required secret."""

import pulumi
import pulumi_azure_native as azure_native

config = pulumi.Config()
location = config.require("location")
password = config.require_secret("adminPassword")
tags = {"region": "eu", "data-residency": "eu", "data-classification": config.require("classification")}

group = azure_native.resources.ResourceGroup("app", location=location, tags=tags)
pulumi.export("password_length", password.apply(len))
